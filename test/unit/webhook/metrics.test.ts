// The webhook's /metrics text, byte for byte as it was before its histogram moved onto
// src/kube/metrics.ts: the same names, help, label order, buckets, escaping and "other" path.
import { describe, expect, it } from "vitest";
import { Metrics } from "../../../src/webhook/metrics.ts";

const EMPTY = `# HELP vol_webhook_requests_total HTTP requests by path and status code.
# TYPE vol_webhook_requests_total counter
# HELP vol_webhook_request_duration_seconds Time to answer an HTTP request.
# TYPE vol_webhook_request_duration_seconds histogram
# HELP vol_webhook_admissions_total Admission answers by path, outcome and whether a patch was sent.
# TYPE vol_webhook_admissions_total counter
# HELP vol_webhook_decisions_total Rule findings (decisions by rule) by webhook, rule and severity.
# TYPE vol_webhook_decisions_total counter
`;

const AFTER_TRAFFIC = `# HELP vol_webhook_requests_total HTTP requests by path and status code.
# TYPE vol_webhook_requests_total counter
vol_webhook_requests_total{path="/validate",code="200"} 2
vol_webhook_requests_total{path="/mutate",code="200"} 1
vol_webhook_requests_total{path="/validate",code="400"} 1
vol_webhook_requests_total{path="other",code="404"} 1
vol_webhook_requests_total{path="/metrics",code="200"} 1
# HELP vol_webhook_request_duration_seconds Time to answer an HTTP request.
# TYPE vol_webhook_request_duration_seconds histogram
vol_webhook_request_duration_seconds_bucket{path="/validate",le="0.0005"} 1
vol_webhook_request_duration_seconds_bucket{path="/validate",le="0.001"} 1
vol_webhook_request_duration_seconds_bucket{path="/validate",le="0.0025"} 1
vol_webhook_request_duration_seconds_bucket{path="/validate",le="0.005"} 2
vol_webhook_request_duration_seconds_bucket{path="/validate",le="0.01"} 2
vol_webhook_request_duration_seconds_bucket{path="/validate",le="0.025"} 2
vol_webhook_request_duration_seconds_bucket{path="/validate",le="0.05"} 2
vol_webhook_request_duration_seconds_bucket{path="/validate",le="0.1"} 2
vol_webhook_request_duration_seconds_bucket{path="/validate",le="0.25"} 2
vol_webhook_request_duration_seconds_bucket{path="/validate",le="0.5"} 2
vol_webhook_request_duration_seconds_bucket{path="/validate",le="1"} 2
vol_webhook_request_duration_seconds_bucket{path="/validate",le="2.5"} 2
vol_webhook_request_duration_seconds_bucket{path="/validate",le="+Inf"} 3
vol_webhook_request_duration_seconds_sum{path="/validate"} 3.0034
vol_webhook_request_duration_seconds_count{path="/validate"} 3
vol_webhook_request_duration_seconds_bucket{path="/mutate",le="0.0005"} 0
vol_webhook_request_duration_seconds_bucket{path="/mutate",le="0.001"} 0
vol_webhook_request_duration_seconds_bucket{path="/mutate",le="0.0025"} 0
vol_webhook_request_duration_seconds_bucket{path="/mutate",le="0.005"} 0
vol_webhook_request_duration_seconds_bucket{path="/mutate",le="0.01"} 0
vol_webhook_request_duration_seconds_bucket{path="/mutate",le="0.025"} 1
vol_webhook_request_duration_seconds_bucket{path="/mutate",le="0.05"} 1
vol_webhook_request_duration_seconds_bucket{path="/mutate",le="0.1"} 1
vol_webhook_request_duration_seconds_bucket{path="/mutate",le="0.25"} 1
vol_webhook_request_duration_seconds_bucket{path="/mutate",le="0.5"} 1
vol_webhook_request_duration_seconds_bucket{path="/mutate",le="1"} 1
vol_webhook_request_duration_seconds_bucket{path="/mutate",le="2.5"} 1
vol_webhook_request_duration_seconds_bucket{path="/mutate",le="+Inf"} 1
vol_webhook_request_duration_seconds_sum{path="/mutate"} 0.02
vol_webhook_request_duration_seconds_count{path="/mutate"} 1
vol_webhook_request_duration_seconds_bucket{path="other",le="0.0005"} 0
vol_webhook_request_duration_seconds_bucket{path="other",le="0.001"} 1
vol_webhook_request_duration_seconds_bucket{path="other",le="0.0025"} 1
vol_webhook_request_duration_seconds_bucket{path="other",le="0.005"} 1
vol_webhook_request_duration_seconds_bucket{path="other",le="0.01"} 1
vol_webhook_request_duration_seconds_bucket{path="other",le="0.025"} 1
vol_webhook_request_duration_seconds_bucket{path="other",le="0.05"} 1
vol_webhook_request_duration_seconds_bucket{path="other",le="0.1"} 1
vol_webhook_request_duration_seconds_bucket{path="other",le="0.25"} 1
vol_webhook_request_duration_seconds_bucket{path="other",le="0.5"} 1
vol_webhook_request_duration_seconds_bucket{path="other",le="1"} 1
vol_webhook_request_duration_seconds_bucket{path="other",le="2.5"} 1
vol_webhook_request_duration_seconds_bucket{path="other",le="+Inf"} 1
vol_webhook_request_duration_seconds_sum{path="other"} 0.001
vol_webhook_request_duration_seconds_count{path="other"} 1
vol_webhook_request_duration_seconds_bucket{path="/metrics",le="0.0005"} 1
vol_webhook_request_duration_seconds_bucket{path="/metrics",le="0.001"} 1
vol_webhook_request_duration_seconds_bucket{path="/metrics",le="0.0025"} 1
vol_webhook_request_duration_seconds_bucket{path="/metrics",le="0.005"} 1
vol_webhook_request_duration_seconds_bucket{path="/metrics",le="0.01"} 1
vol_webhook_request_duration_seconds_bucket{path="/metrics",le="0.025"} 1
vol_webhook_request_duration_seconds_bucket{path="/metrics",le="0.05"} 1
vol_webhook_request_duration_seconds_bucket{path="/metrics",le="0.1"} 1
vol_webhook_request_duration_seconds_bucket{path="/metrics",le="0.25"} 1
vol_webhook_request_duration_seconds_bucket{path="/metrics",le="0.5"} 1
vol_webhook_request_duration_seconds_bucket{path="/metrics",le="1"} 1
vol_webhook_request_duration_seconds_bucket{path="/metrics",le="2.5"} 1
vol_webhook_request_duration_seconds_bucket{path="/metrics",le="+Inf"} 1
vol_webhook_request_duration_seconds_sum{path="/metrics"} 0.0005
vol_webhook_request_duration_seconds_count{path="/metrics"} 1
# HELP vol_webhook_admissions_total Admission answers by path, outcome and whether a patch was sent.
# TYPE vol_webhook_admissions_total counter
vol_webhook_admissions_total{path="/validate",allowed="true",patched="false"} 2
vol_webhook_admissions_total{path="/validate",allowed="false",patched="false"} 1
vol_webhook_admissions_total{path="/mutate",allowed="true",patched="true"} 1
# HELP vol_webhook_decisions_total Rule findings (decisions by rule) by webhook, rule and severity.
# TYPE vol_webhook_decisions_total counter
vol_webhook_decisions_total{webhook="validate",rule="clone-size",severity="deny"} 2
vol_webhook_decisions_total{webhook="validate",rule="schedule-selector-empty",severity="warn"} 1
vol_webhook_decisions_total{webhook="mutate",rule="restore-size",severity="warn"} 1
`;

describe("webhook metrics", () => {
  it("render as they always have, before any request", () => {
    expect(new Metrics().render()).toBe(EMPTY);
  });

  it("render requests, latency, admissions and findings as they always have", () => {
    const m = new Metrics();
    m.request("/validate", 200, 0.0004);
    m.request("/validate", 200, 0.003);
    m.request("/mutate", 200, 0.02);
    m.request("/validate", 400, 3);
    m.request('/../etc"\n', 404, 0.001); // an unknown path is counted as "other"
    m.request("/metrics", 200, 0.0005);
    m.admission("/validate", true, false);
    m.admission("/validate", false, false);
    m.admission("/mutate", true, true);
    m.admission("/validate", true, false);
    m.finding("validate", "clone-size", "deny");
    m.finding("validate", "schedule-selector-empty", "warn");
    m.finding("validate", "clone-size", "deny");
    m.finding("mutate", "restore-size", "warn");
    expect(m.render()).toBe(AFTER_TRAFFIC);
  });
});
