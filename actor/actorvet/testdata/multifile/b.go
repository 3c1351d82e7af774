package multifile

func b(ch chan int) {
	ch <- 1
}
