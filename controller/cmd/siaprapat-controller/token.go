package main

import (
	"os"

	"go.yaml.in/yaml/v3"
)

// packagedConfig is where the Debian package keeps the controller's
// configuration, with the API tokens it made at install.
const packagedConfig = "/etc/siaprapat/controller.yaml"

// apiToken is the admin token the CLI sends: --token, else
// SIAPRAPAT_API_TOKEN (config.Resolve sets --token from it), else the
// packaged configuration's api-token when this user may read it (root on
// the controller's own machine), so that the installed package's own
// tokens need no typing there.
func apiToken(resolved string) string {
	if resolved != "" {
		return resolved
	}
	data, err := os.ReadFile(packagedConfig)
	if err != nil {
		return ""
	}
	var cfg struct {
		APIToken string `yaml:"api-token"`
	}
	if yaml.Unmarshal(data, &cfg) != nil {
		return ""
	}
	return cfg.APIToken
}
