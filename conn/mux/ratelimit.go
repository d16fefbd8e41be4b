package mux

import (
	"time"

	"golang.org/x/time/rate"
)

// Inbound rate limits never slow the reader down (that would delay control
// messages and every other topic); they count excess instead. Each excess
// is reported through OnRateExcess as a reputation event and takes a token
// from the connection's strike bucket (ExcessTolerance per ExcessPeriod);
// when the bucket is empty the excess is persistent and the connection
// ends with goaway "rate limit". Outbound, the writer holds data packets
// back to respect min(SendRate, the peer's announced RecvRate); control
// messages bypass the limiter.

// checkInboundRate counts a message arriving on t against the topic's
// inbound message rate.
func (c *MultiConn) checkInboundRate(t *topic) error {
	if t.lim == nil || t.lim.AllowN(c.clock.Now(), 1) {
		return nil
	}
	t.st.rateExcess.Add(1)
	return c.excess(t.id)
}

// checkRecvRate counts n inbound data bytes against RecvRate.
func (c *MultiConn) checkRecvRate(n int) error {
	if c.recvLim == nil || c.recvLim.AllowN(c.clock.Now(), n) {
		return nil
	}
	return c.excess(0)
}

// excess reports one inbound excess on topic (0: the connection's byte
// rate) and returns a violation once excess is persistent.
func (c *MultiConn) excess(topic uint8) error {
	c.st.rateExcess.Add(1)
	if c.p.onRateExcess != nil {
		c.p.onRateExcess(c, topic)
	}
	if c.strikes == nil {
		per := c.p.excessPeriod / time.Duration(c.p.excessTol)
		c.strikes = rate.NewLimiter(rate.Every(per), c.p.excessTol)
	}
	if c.strikes.AllowN(c.clock.Now(), 1) {
		return nil
	}
	return violation(ViolationRateExcess, topic, "more than %d excesses in %v", c.p.excessTol, c.p.excessPeriod)
}
