package dotimport

import . "time"

func nap() {
	Sleep(Second)
}
