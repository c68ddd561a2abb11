package elasticsearch

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"

	"github.com/lannerhq/lanner/outputs"
	"github.com/lannerhq/lanner/outputs/httpout"
)

// indexTemplate is the composable index template createindextemplate
// installs: dates as dates, the alert's identifying fields as keywords (exact
// match, aggregations), the output text as full text, and every string in
// output_fields as a keyword.
func (o *Output) indexTemplate() ([]byte, error) {
	patterns := []string{o.cfg.Index + "-*"}
	if o.cfg.DataStream || o.layout == "" {
		patterns = []string{o.cfg.Index}
	}
	kw := map[string]string{"type": "keyword"}
	t := map[string]any{
		"index_patterns": patterns,
		"priority":       200,
		"template": map[string]any{
			"settings": map[string]any{
				"number_of_shards":   o.cfg.NumberOfShards,
				"number_of_replicas": o.cfg.NumberOfReplicas,
			},
			"mappings": map[string]any{
				"dynamic_templates": []any{
					map[string]any{"output_fields_strings": map[string]any{
						"path_match":         "output_fields.*",
						"match_mapping_type": "string",
						"mapping":            kw,
					}},
				},
				"properties": map[string]any{
					"@timestamp":    map[string]string{"type": "date"},
					"time":          map[string]string{"type": "date"},
					"uuid":          kw,
					"priority":      kw,
					"rule":          kw,
					"source":        kw,
					"hostname":      kw,
					"tags":          kw,
					"output":        map[string]string{"type": "text"},
					"output_fields": map[string]any{"type": "object", "dynamic": true},
				},
			},
		},
	}
	if o.cfg.DataStream {
		t["data_stream"] = map[string]any{}
	}
	return json.Marshal(t)
}

// ensureTemplate installs the index template once, before the first write,
// so the first index of the day is created with its mappings. A network or
// 5xx failure fails the Send (retryable) and is tried again next time; a
// refusal (4xx) is permanent for the batch and logged, since documents
// written without the template would get the wrong mappings.
func (o *Output) ensureTemplate(ctx context.Context) error {
	if !o.cfg.CreateIndexTemplate {
		return nil
	}
	o.tmplMu.Lock()
	defer o.tmplMu.Unlock()
	if o.tmplDone {
		return nil
	}
	body, err := o.indexTemplate()
	if err != nil {
		return outputs.Permanent(fmt.Errorf("elasticsearch: index template: %w", err))
	}
	res, err := o.es.Indices.PutIndexTemplate(o.cfg.Index, bytes.NewReader(body), o.es.Indices.PutIndexTemplate.WithContext(ctx))
	if err != nil {
		return o.transportError(fmt.Errorf("index template: %w", err))
	}
	defer httpout.DrainClose(res.Body)
	if err := httpout.Classify(&http.Response{StatusCode: res.StatusCode, Header: res.Header, Body: res.Body}, nil); err != nil {
		err = o.redact.Error(fmt.Errorf("elasticsearch: index template %s: %w", o.cfg.Index, err))
		o.log.Error("elasticsearch: cannot install the index template", "template", o.cfg.Index, "err", err)
		return err
	}
	o.tmplDone = true
	o.log.Info("elasticsearch: index template installed", "template", o.cfg.Index)
	return nil
}
