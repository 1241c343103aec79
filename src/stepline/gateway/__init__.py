"""The gRPC endpoint of the official clients, transcoded onto the HTTP API (``transcoder``)."""
