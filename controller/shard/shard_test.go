package shard

import (
	"slices"
	"strings"
	"testing"
)

func TestParse_OwnsAndFilters(t *testing.T) {
	for _, tc := range []struct {
		list    string
		owns    []string
		notOwns []string
		filters []string
	}{
		{
			list:    "",
			owns:    []string{"kalbar", "anything"},
			filters: []string{"siaprapat/v1/+/+/report"},
		},
		{
			list:    "kalbar-pontianak, kalbar-sambas,kalbar-pontianak",
			owns:    []string{"kalbar-pontianak", "kalbar-sambas"},
			notOwns: []string{"kalbar", "kalbar-pontianak2", "kalteng"},
			filters: []string{"siaprapat/v1/kalbar-pontianak/+/report", "siaprapat/v1/kalbar-sambas/+/report"},
		},
		{
			list:    "kalbar-*,kaltim",
			owns:    []string{"kalbar-pontianak", "kalbar-", "kaltim"},
			notOwns: []string{"kalbar", "kalteng", "kaltim-x", "x-kalbar-y"},
			filters: []string{"siaprapat/v1/+/+/report"},
		},
	} {
		s, err := Parse(tc.list)
		if err != nil {
			t.Fatalf("Parse(%q): %v", tc.list, err)
		}
		for _, site := range tc.owns {
			if !s.Owns(site) {
				t.Errorf("Parse(%q).Owns(%q) = false, want true", tc.list, site)
			}
		}
		for _, site := range tc.notOwns {
			if s.Owns(site) {
				t.Errorf("Parse(%q).Owns(%q) = true, want false", tc.list, site)
			}
		}
		if got := s.Filters("report"); !slices.Equal(got, tc.filters) {
			t.Errorf("Parse(%q).Filters = %q, want %q", tc.list, got, tc.filters)
		}
		if got, want := s.Exact(), !strings.Contains(tc.list, "*"); got != want {
			t.Errorf("Parse(%q).Exact = %v", tc.list, got)
		}
	}
}

func TestParse_RefusesWhatIsNotASitePattern(t *testing.T) {
	for _, list := range []string{"*", "kalbar/#", "siaprapat/v1/kalbar-#", "kal bar", "kal?bar", "[k]albar", "-kalbar"} {
		if _, err := Parse(list); err == nil {
			t.Errorf("Parse(%q): no error", list)
		} else if !strings.Contains(err.Error(), "shard") {
			t.Errorf("Parse(%q): %v does not say which flag", list, err)
		}
	}
}
