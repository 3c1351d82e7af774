package systest

import "math/bits"

// rng is a small, fast, seedable generator (SplitMix64). The tester needs its own so that a run
// depends on its seed alone, whatever the Go version's math/rand does.
type rng struct{ s uint64 }

func newRNG(seed uint64) *rng { return &rng{s: seed} }

func (r *rng) next() uint64 {
	r.s += 0x9e3779b97f4a7c15
	z := r.s
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9
	z = (z ^ (z >> 27)) * 0x94d049bb133111eb
	return z ^ (z >> 31)
}

// intn returns a number in [0, n); n must be positive.
func (r *rng) intn(n int) int {
	if n <= 1 {
		return 0
	}
	// Lemire's multiply-shift; the slight bias for huge n does not matter here.
	hi, _ := bits.Mul64(r.next(), uint64(n))
	return int(hi)
}

func (r *rng) float() float64 { return float64(r.next()>>11) / (1 << 53) }

// mix derives the seed of one iteration from the hunt's seed.
func mix(seed uint64, i int) uint64 {
	r := rng{s: seed ^ uint64(i)*0x94d049bb133111eb}
	return r.next()
}
