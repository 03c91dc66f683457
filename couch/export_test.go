package couch

// Queued reports how many puts and gets wait for the next batch.
func Queued(b *Batcher) (puts, gets int) {
	b.puts.mu.Lock()
	puts = len(b.puts.queue)
	b.puts.mu.Unlock()
	b.gets.mu.Lock()
	gets = len(b.gets.queue)
	b.gets.mu.Unlock()
	return puts, gets
}
