// Package firmwareprofiles embeds siaprapat's data files: readiness standards
// (standards/*.yaml) and hardware profiles (devices/*.yaml). The loaders live
// in the agent's packages; this package only exposes the files.
package firmwareprofiles

import (
	"embed"
	"io/fs"
)

//go:embed standards/*.yaml devices/*.yaml
var files embed.FS

// FS returns the embedded data files, rooted at this directory
// (paths such as "standards/default.yaml").
func FS() fs.FS { return files }

// DefaultStandard is the path in FS of the standard used when none is given.
const DefaultStandard = "standards/default.yaml"
