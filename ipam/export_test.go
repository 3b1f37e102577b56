package ipam

// ClaimWaiters is how many callers of m wait to claim a block of pool.
func ClaimWaiters(m *IPAM, pool string) int { return m.claims.waiters(pool) }

// HandleWaiters is how many callers of m wait for another call on handle.
func HandleWaiters(m *IPAM, handle string) int { return m.handles.waiters(handle) }
