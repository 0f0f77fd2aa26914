// Command decode reads the plugin lists of an argo-rollouts-config ConfigMap the way the
// controller does and prints what it got, one JSON line per case, for the differential
// test in ../test_decode_agreement.py.
//
// Input: JSON lines {"id": "...", "mode": "decode"|"url", "data": "..."}.
// "decode": sigs.k8s.io/yaml.Unmarshal(data, &[]PluginItem) as utils/config/config.go does
// (argo-rollouts v1.9.1). "url": url.ParseRequestURI(data) as utils/plugin/downloader.go does.
//
// PluginItem below has the shape of utils/plugin/types/types.go at v1.9.1 (field names,
// types and json tags); it is written here, not copied.
package main

import (
	"bufio"
	"encoding/json"
	"net/url"
	"os"
	"runtime"

	"sigs.k8s.io/yaml"
)

type SecretRef struct {
	Name string `json:"name"`
}

type HeadersFrom struct {
	SecretRef SecretRef `json:"secretRef"`
}

type PluginItem struct {
	Name        string        `json:"name"`
	Location    string        `json:"location"`
	Sha256      string        `json:"sha256"`
	Type        string        // no tag, as in the controller: JSON key "Type"
	Disabled    bool          `json:"disabled"`
	Args        []string      `json:"args"`
	HeadersFrom []HeadersFrom `json:"headersFrom"`
}

type request struct {
	ID   string `json:"id"`
	Mode string `json:"mode"`
	Data string `json:"data"`
}

type parsedURL struct {
	Scheme string `json:"scheme"`
	Host   string `json:"host"`
	Path   string `json:"path"`
	Opaque string `json:"opaque"`
}

type answer struct {
	ID    string       `json:"id"`
	Go    string       `json:"go"`
	Error *string      `json:"error"`
	Items []PluginItem `json:"items,omitempty"`
	URL   *parsedURL   `json:"url,omitempty"`
}

func main() {
	in := bufio.NewScanner(os.Stdin)
	in.Buffer(make([]byte, 1<<20), 1<<26)
	out := json.NewEncoder(os.Stdout)
	for in.Scan() {
		var req request
		if err := json.Unmarshal(in.Bytes(), &req); err != nil {
			os.Stderr.WriteString("bad request: " + err.Error() + "\n")
			os.Exit(2)
		}
		ans := answer{ID: req.ID, Go: runtime.Version()}
		switch req.Mode {
		case "url":
			u, err := url.ParseRequestURI(req.Data)
			if err != nil {
				text := err.Error()
				ans.Error = &text
			} else {
				ans.URL = &parsedURL{u.Scheme, u.Host, u.Path, u.Opaque}
			}
		default:
			items := []PluginItem{}
			if err := yaml.Unmarshal([]byte(req.Data), &items); err != nil {
				text := err.Error()
				ans.Error = &text
			} else {
				ans.Items = items
			}
		}
		if err := out.Encode(ans); err != nil {
			os.Exit(3)
		}
	}
	if err := in.Err(); err != nil {
		os.Stderr.WriteString("read: " + err.Error() + "\n")
		os.Exit(2)
	}
}
