//go:build !(linux || windows) || !cgo

package camera

import (
	"context"
	"errors"
	"testing"
)

func TestLive_UnsupportedBuildSaysWhy(t *testing.T) {
	c, err := New(Config{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Run(context.Background(), defaultStandard(t)); !errors.Is(err, errNoLiveCameras) {
		t.Errorf("Run: %v, want %v", err, errNoLiveCameras)
	}
}
