package camera

import (
	"context"
	"errors"
	"log/slog"
	"strings"

	"golang.org/x/sys/windows/registry"
)

// consentPath is where Windows records, per application, when it last
// started and stopped using a camera (Windows 10 1903 and later): under
// HKEY_LOCAL_MACHINE\SOFTWARE and each user's hive (HKEY_USERS\SID).
const consentPath = `Software\Microsoft\Windows\CurrentVersion\CapabilityAccessManager\ConsentStore\webcam`

// DefaultInUse reads Windows' capability access store: an application whose
// webcam entry has a start time and no stop time is using a camera now. The
// store is read from the machine's hive and every loaded user hive, so an
// agent running as a service sees the signed-in user's meeting app.
func DefaultInUse(log *slog.Logger) InUseFunc {
	return func(context.Context) (bool, string) {
		entries, err := consentEntries()
		if err != nil {
			log.Debug("cannot tell whether a program holds a camera", "err", err)
		}
		apps := InUseApps(entries)
		if len(apps) == 0 {
			return false, ""
		}
		return true, strings.Join(apps, ", ")
	}
}

// consentEntries reads every webcam entry of the store it can open.
func consentEntries() ([]ConsentEntry, error) {
	roots := []struct {
		key  registry.Key
		path string
	}{{registry.LOCAL_MACHINE, consentPath}}
	if users, err := registry.OpenKey(registry.USERS, "", registry.ENUMERATE_SUB_KEYS); err == nil {
		sids, _ := users.ReadSubKeyNames(-1)
		users.Close()
		for _, sid := range sids {
			roots = append(roots, struct {
				key  registry.Key
				path string
			}{registry.USERS, sid + `\` + consentPath})
		}
	}
	var out []ConsentEntry
	var errs []error
	for _, r := range roots {
		es, err := readConsent(r.key, r.path)
		if err != nil && !errors.Is(err, registry.ErrNotExist) {
			errs = append(errs, err)
		}
		out = append(out, es...)
	}
	return out, errors.Join(errs...)
}

func readConsent(root registry.Key, path string) ([]ConsentEntry, error) {
	k, err := registry.OpenKey(root, path, registry.ENUMERATE_SUB_KEYS)
	if err != nil {
		return nil, err
	}
	defer k.Close()
	names, err := k.ReadSubKeyNames(-1)
	if err != nil {
		return nil, err
	}
	var out []ConsentEntry
	for _, name := range names {
		if name == "NonPackaged" {
			np, err := registry.OpenKey(k, name, registry.ENUMERATE_SUB_KEYS)
			if err != nil {
				continue
			}
			apps, _ := np.ReadSubKeyNames(-1)
			for _, app := range apps {
				if e, ok := readEntry(np, app); ok {
					e.NonPackaged = true
					out = append(out, e)
				}
			}
			np.Close()
			continue
		}
		if e, ok := readEntry(k, name); ok {
			out = append(out, e)
		}
	}
	return out, nil
}

func readEntry(parent registry.Key, name string) (ConsentEntry, bool) {
	k, err := registry.OpenKey(parent, name, registry.QUERY_VALUE)
	if err != nil {
		return ConsentEntry{}, false
	}
	defer k.Close()
	start, _, err := k.GetIntegerValue("LastUsedTimeStart")
	if err != nil {
		return ConsentEntry{}, false
	}
	stop, _, _ := k.GetIntegerValue("LastUsedTimeStop")
	return ConsentEntry{App: name, Start: start, Stop: stop}, true
}
