package channel

func ops(in <-chan int, out chan<- int, done chan struct{}) int {
	out <- 1
	v := <-in
	// The select is one finding; the operations heading its cases are covered by it.
	select {
	case x := <-in:
		v += x + <-in // a receive in a case body is its own finding
	case out <- v:
	case <-done:
	default:
	}
	// Ranging over a channel is not flagged: without types it looks like ranging over a slice.
	for x := range in {
		v += x
	}
	return v
}
