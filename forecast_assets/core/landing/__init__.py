"""Landing: validating a client's delivery into raw rows and rejects, and noticing new deliveries."""
