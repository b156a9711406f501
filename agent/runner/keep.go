package runner

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/siaprapat/siaprapat/internal/atomicfile"
	"github.com/siaprapat/siaprapat/wire"
)

// Keeper keeps a spaced check's last complete results across restarts, so
// that an agent started again (a package upgrade, a reboot) repeats them
// until the check's period is over instead of measuring at once: a network
// test moves tens of megabytes over the room's link.
type Keeper interface {
	Load(check string) (at time.Time, results []wire.CheckResult, err error)
	Save(check string, at time.Time, results []wire.CheckResult) error
}

// FileKeeper keeps each check's results in DIR/last-CHECK.json.
type FileKeeper string

type kept struct {
	MeasuredAt time.Time          `json:"measured_at"`
	Results    []wire.CheckResult `json:"results"`
}

func (k FileKeeper) path(check string) string {
	return filepath.Join(string(k), "last-"+check+".json")
}

// Load reads a check's kept results; none kept is not an error (zero at).
func (k FileKeeper) Load(check string) (time.Time, []wire.CheckResult, error) {
	data, err := os.ReadFile(k.path(check))
	if errors.Is(err, os.ErrNotExist) {
		return time.Time{}, nil, nil
	}
	if err != nil {
		return time.Time{}, nil, err
	}
	var v kept
	if err := json.Unmarshal(data, &v); err != nil {
		return time.Time{}, nil, fmt.Errorf("%s: %w", k.path(check), err)
	}
	return v.MeasuredAt, v.Results, nil
}

// Save writes a check's results, replacing the file whole.
func (k FileKeeper) Save(check string, at time.Time, results []wire.CheckResult) error {
	data, err := json.Marshal(kept{MeasuredAt: at, Results: results})
	if err != nil {
		return err
	}
	return atomicfile.Write(k.path(check), data)
}
