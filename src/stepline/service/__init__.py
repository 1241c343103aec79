"""The core use cases behind each API call; handlers and the dev stack both call these."""
