//go:build !unix

package mapping_test

import "time"

// cpuTime is unavailable here; benchmarks then report no cpu-ns/record.
func cpuTime() time.Duration { return 0 }
