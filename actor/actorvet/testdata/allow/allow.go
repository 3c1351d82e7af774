package allow

import (
	"sync" //actorvet:allow this shim is the runtime's own scheduler
	"time"
)

func shim(mu *sync.Mutex) {
	//actorvet:allow the runtime's clock is implemented here
	_ = time.Now()
	_ = time.Now() //actorvet:allow a trailing comment covers its own line
	_ = time.Now() // flagged: the trailing allow above does not reach this line

	//actorvet:allow a blank line separates this from the code below

	_ = time.Now() // flagged: the allow is not immediately above
	//actorvet:allow
	_ = time.Now() // flagged: the allow above has no reason
	go mu.Lock()   //actorvet:allow
	//actorvet:allowed is a different word, not the directive
	_ = time.Now() // flagged
}
