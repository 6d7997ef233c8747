"""One module per rule kind: each turns an Event of its class into the least rule."""
