package gostmt

func work() {}

func spawn() {
	go work()
	go func() {
		work()
	}()
}
