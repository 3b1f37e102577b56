//go:build !cane_crashpoints

package daemon

// crashPoint does nothing in a caned built without the cane_crashpoints
// tag (every release): an empty function the compiler inlines away, so
// no environment variable can make a production caned kill itself.
func crashPoint(string) {}
