package jwtsession

// CacheCounters returns the validated-token cache's hits, misses and length (zeros when
// the cache is off), for tests and benchmarks.
func (m *Manager) CacheCounters() (hits, misses uint64, n int) {
	if m.cache == nil {
		return 0, 0, 0
	}
	st := m.cache.stats()
	return st.Hits, st.Misses, st.Len
}
