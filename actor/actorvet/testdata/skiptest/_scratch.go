package skiptest

// The go tool ignores files whose names start with "_", and so does actorvet.
func scratch() {
	go scratch()
}
