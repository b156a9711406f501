package e2e

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
)

// promSample is one series of an instant query's answer.
type promSample struct {
	Metric map[string]string
	Value  string
}

// promInstantQuery runs an instant query through Prometheus's HTTP API.
func promInstantQuery(addr, q string) ([]promSample, error) {
	resp, err := http.Get("http://" + addr + "/api/v1/query?query=" + url.QueryEscape(q))
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	var body struct {
		Status string `json:"status"`
		Error  string `json:"error"`
		Data   struct {
			Result []struct {
				Metric map[string]string `json:"metric"`
				Value  [2]any            `json:"value"`
			} `json:"result"`
		} `json:"data"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
		return nil, err
	}
	if body.Status != "success" {
		return nil, fmt.Errorf("status %s: %s", body.Status, body.Error)
	}
	out := make([]promSample, 0, len(body.Data.Result))
	for _, r := range body.Data.Result {
		out = append(out, promSample{Metric: r.Metric, Value: fmt.Sprint(r.Value[1])})
	}
	return out, nil
}

// promInstant runs an instant query and returns how many series came back.
func promInstant(addr, q string) (int, error) {
	s, err := promInstantQuery(addr, q)
	return len(s), err
}

// promValue runs an instant query and returns its first sample's value.
func promValue(addr, q string) (float64, error) {
	s, err := promInstantQuery(addr, q)
	if err != nil {
		return 0, err
	}
	if len(s) == 0 {
		return 0, fmt.Errorf("no series")
	}
	return strconv.ParseFloat(s[0].Value, 64)
}

// promByState runs an instant query and returns each series' value by its
// "state" label.
func promByState(addr, q string) (map[string]string, error) {
	s, err := promInstantQuery(addr, q)
	if err != nil {
		return nil, err
	}
	out := map[string]string{}
	for _, r := range s {
		out[r.Metric["state"]] = r.Value
	}
	return out, nil
}
