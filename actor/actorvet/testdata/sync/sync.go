package syncuse

import (
	"sync"
	"sync/atomic"
)

type counter struct {
	mu sync.Mutex
	n  atomic.Int64
}
