package client

// windowSize is the HTTP/2 flow-control window the client offers per
// stream and per connection: large enough that a pull of 1 MiB chunks never
// waits for a window update.
const windowSize = 8 << 20
