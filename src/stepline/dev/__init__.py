"""The dev stack: the real handlers on one machine, against an embedded AWS emulator."""
