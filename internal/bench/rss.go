package bench

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"runtime"
	"runtime/debug"
	"strconv"
)

// procStatus reads one "kB" field (VmRSS, VmHWM) of /proc/self/status, in
// bytes. It returns 0 where /proc is missing.
func procStatus(field string) int64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		line := sc.Bytes()
		if !bytes.HasPrefix(line, []byte(field+":")) {
			continue
		}
		f := bytes.Fields(line[len(field)+1:])
		if len(f) == 0 {
			return 0
		}
		kb, err := strconv.ParseInt(string(f[0]), 10, 64)
		if err != nil {
			return 0
		}
		return kb << 10
	}
	return 0
}

// settle collects garbage and returns freed memory to the OS, so that the
// resident set is what is live.
func settle() {
	runtime.GC()
	debug.FreeOSMemory()
}

// resetPeak resets the process's peak resident set size (VmHWM) to its
// current resident set (Linux ≥ 4.0: "5" to /proc/self/clear_refs), so the
// next VmHWM reading is the peak of what runs in between.
func resetPeak() error {
	if err := os.WriteFile("/proc/self/clear_refs", []byte("5"), 0); err != nil {
		return fmt.Errorf("reset the peak RSS: %w", err)
	}
	return nil
}
