package alias

import t "time"

func elapsed() t.Duration {
	start := t.Now()
	t.Sleep(t.Second)
	return t.Since(start)
}
