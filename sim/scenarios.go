package sim

import (
	"fmt"
	"runtime"
	"sync"
	"time"
)

// Scenario is a named attacker model.
type Scenario struct {
	Name, What string
	Attack     Attack
	// PlainBootstrap runs the bootstrap nodes as ordinary nodes, not seeds.
	PlainBootstrap bool
}

// Scenarios returns the attacker models of the report at duration d (the
// restart-time attack restarts the victims at d/2).
func Scenarios(d time.Duration) []Scenario {
	both := func(a Attack) Attack { a.PexPoison, a.InboundPerVictim = true, 40; return a }
	return []Scenario{
		{Name: "none", What: "no attacker", Attack: Attack{}},
		{Name: "one-/16", What: "64 IPs in one /16, PEX poisoning + 40 inbound connections per victim", Attack: both(Attack{Groups: 1, IPsPerGroup: 64})},
		{Name: "infrastructure", What: "4 /16s × 256 IPs, PEX poisoning + inbound occupation", Attack: both(Attack{Groups: 4, IPsPerGroup: 256})},
		{Name: "botnet", What: "256 /16s × 1 IP, PEX poisoning + inbound occupation", Attack: both(Attack{Groups: 256, IPsPerGroup: 1})},
		{Name: "sybil", What: "4 /16s × 16 IPs × 16 IDs per IP, PEX poisoning + inbound occupation", Attack: both(Attack{Groups: 4, IPsPerGroup: 16, IDsPerIP: 16})},
		{Name: "pex-poison", What: "16 /16s × 4 IPs, PEX poisoning only (one connection per identity into a random node)", Attack: Attack{Groups: 16, IPsPerGroup: 4, PexPoison: true}},
		{Name: "inbound-slots", What: "16 /16s × 16 IPs, inbound occupation only (40 per victim)", Attack: Attack{Groups: 16, IPsPerGroup: 16, InboundPerVictim: 40}},
		{Name: "restart", What: fmt.Sprintf("botnet of 64 /16s, poisoning + occupation; victims restart at %v", d/2), Attack: func() Attack {
			a := both(Attack{Groups: 64, IPsPerGroup: 1})
			a.RestartAt = d / 2
			return a
		}()},
		{Name: "bootstrap", What: "16 /16s × 4 IPs, poisoning + occupation, half the bootstrap list the attacker's", Attack: func() Attack {
			a := both(Attack{Groups: 16, IPsPerGroup: 4})
			a.BootstrapShare = 0.5
			return a
		}()},
		{Name: "one-/16, plain bootstrap", What: "one-/16 attacker; the bootstrap nodes are ordinary nodes, not seeds", Attack: both(Attack{Groups: 1, IPsPerGroup: 64}), PlainBootstrap: true},
	}
}

// BudgetSweep is the botnet of the eclipse-vs-budget figure: /16 counts.
var BudgetSweep = []int{1, 4, 16, 64, 256, 1024}

// budgetAttack is the sweep's attacker with g /16s.
func budgetAttack(g int) Attack {
	return Attack{Name: fmt.Sprintf("botnet-%d", g), Groups: g, IPsPerGroup: 1, PexPoison: true, InboundPerVictim: 40}
}

// runSeeds runs base with seeds first..first+seeds-1 over workers
// goroutines; the results are in seed order whatever the scheduling.
func runSeeds(base Config, first, seeds, workers int) ([]*Result, error) {
	if workers <= 0 {
		workers = runtime.GOMAXPROCS(0)
	}
	out := make([]*Result, seeds)
	errs := make([]error, seeds)
	var wg sync.WaitGroup
	next := make(chan int)
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				c := base
				c.Seed = uint64(first + i)
				out[i], errs[i] = Run(c)
			}
		}()
	}
	for i := range seeds {
		next <- i
	}
	close(next)
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return nil, err
		}
	}
	return out, nil
}
