package random

import (
	crand "crypto/rand"
	"math/rand"
	randv2 "math/rand/v2"
)

func roll() int {
	_, _ = crand.Read(make([]byte, 8))
	return rand.Intn(6) + randv2.IntN(6)
}
