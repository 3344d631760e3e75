package conntrack

import (
	"fmt"
	"os"
	"testing"
)

func TestMain(m *testing.M) {
	code := m.Run()
	if leakCheck() {
		fmt.Fprintln(os.Stderr, "LeakSanitizer found C memory leaks (report above)")
		if code == 0 {
			code = 1
		}
	}
	os.Exit(code)
}
