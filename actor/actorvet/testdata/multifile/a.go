package multifile

import "time"

func a() {
	go time.Sleep(time.Second)
}
