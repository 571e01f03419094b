package main

import (
	"context"
	"errors"
)

func cmdBench(ctx context.Context, args []string, e env) error {
	return errors.New("bench: not built yet")
}
