"""The public API surface: request models, JSON rendering and errors."""
