// loadgen: the load generator of the webhook benchmark (bench/webhook.bench.ts).
//
// It posts AdmissionReview bodies to one URL over HTTPS keep-alive, either closed-loop
// (-mode saturate: -concurrency requests always in flight, for throughput) or open-loop
// (-mode fixed: a request started every 1/-rate seconds whatever the answers, for latency),
// and prints "measuring" when the measured phase starts (after -warmup), then one JSON object
// with the figures. Go, like the kube-apiserver that calls a
// webhook, and out of the way of the measured process: its own collector does not pause
// the measurement the way a Node.js generator's does.
package main

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"math"
	"net/http"
	"os"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

type result struct {
	Mode       string  `json:"mode"`
	Seconds    float64 `json:"seconds"`
	Sent       int     `json:"sent"`
	OK         int     `json:"ok"`
	Errors     int     `json:"errors"`
	FirstError string  `json:"firstError,omitempty"`
	Achieved   float64 `json:"achievedPerSecond"`
	P50        float64 `json:"p50Ms"`
	P99        float64 `json:"p99Ms"`
	P999       float64 `json:"p999Ms"`
	Max        float64 `json:"maxMs"`
	// Lag is how late the generator started requests against the schedule (fixed mode):
	// a large figure means the generator, not the server, was the bottleneck.
	LagP99 float64 `json:"lagP99Ms"`
}

func main() {
	url := flag.String("url", "", "the webhook URL, e.g. https://127.0.0.1:8443/validate")
	caFile := flag.String("ca", "", "PEM file of the CA that signed the serving certificate")
	bodiesFile := flag.String("bodies", "", "JSON file: an array of request bodies (strings)")
	mode := flag.String("mode", "fixed", "fixed (open loop at -rate) or saturate (closed loop)")
	rate := flag.Float64("rate", 2000, "requests per second in fixed mode")
	seconds := flag.Float64("seconds", 10, "how long to send")
	concurrency := flag.Int("concurrency", 32, "requests in flight in saturate mode; the most connections in either mode")
	warmup := flag.Float64("warmup", 0, "seconds of unmeasured closed-loop load first (opens the connections)")
	flag.Parse()
	if *url == "" || *caFile == "" || *bodiesFile == "" {
		fmt.Fprintln(os.Stderr, "loadgen: -url, -ca and -bodies are required")
		os.Exit(2)
	}
	bodies, err := readBodies(*bodiesFile)
	if err != nil {
		fail(err)
	}
	client, err := newClient(*caFile, *concurrency)
	if err != nil {
		fail(err)
	}
	g := &gen{client: client, url: *url, bodies: bodies}
	if *warmup > 0 {
		g.saturate(*concurrency, time.Duration(*warmup*float64(time.Second)))
		g.reset()
	}
	// The measured phase starts now; a caller that also measures the server resets it here.
	fmt.Println("measuring")
	var r result
	switch *mode {
	case "fixed":
		r = g.fixed(*rate, time.Duration(*seconds*float64(time.Second)))
	case "saturate":
		r = g.saturate(*concurrency, time.Duration(*seconds*float64(time.Second)))
	default:
		fmt.Fprintf(os.Stderr, "loadgen: unknown -mode %q (fixed or saturate)\n", *mode)
		os.Exit(2)
	}
	out, _ := json.Marshal(r)
	fmt.Println(string(out))
}

func fail(err error) {
	fmt.Fprintf(os.Stderr, "loadgen: %v\n", err)
	os.Exit(1)
}

func readBodies(file string) ([][]byte, error) {
	raw, err := os.ReadFile(file)
	if err != nil {
		return nil, err
	}
	var texts []string
	if err := json.Unmarshal(raw, &texts); err != nil {
		return nil, fmt.Errorf("%s: want a JSON array of strings: %w", file, err)
	}
	if len(texts) == 0 {
		return nil, fmt.Errorf("%s: no bodies", file)
	}
	out := make([][]byte, len(texts))
	for i, t := range texts {
		out[i] = []byte(t)
	}
	return out, nil
}

func newClient(caFile string, conns int) (*http.Client, error) {
	pem, err := os.ReadFile(caFile)
	if err != nil {
		return nil, err
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("%s: no PEM certificate", caFile)
	}
	return &http.Client{
		Timeout: 10 * time.Second,
		Transport: &http.Transport{
			TLSClientConfig:     &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12},
			MaxConnsPerHost:     conns,
			MaxIdleConns:        conns,
			MaxIdleConnsPerHost: conns,
			IdleConnTimeout:     time.Minute,
			DisableCompression:  true,
		},
	}, nil
}

type gen struct {
	client *http.Client
	url    string
	bodies [][]byte

	mu        sync.Mutex
	latencies []float64
	errors    int
	firstErr  string
}

// send posts one body and records its latency (handing it to the transport to the last byte).
func (g *gen) send(body []byte) {
	t0 := time.Now()
	err := g.post(body)
	ms := float64(time.Since(t0)) / float64(time.Millisecond)
	g.mu.Lock()
	defer g.mu.Unlock()
	if err != nil {
		if g.errors == 0 {
			g.firstErr = err.Error()
		}
		g.errors++
		return
	}
	g.latencies = append(g.latencies, ms)
}

func (g *gen) post(body []byte) error {
	req, err := http.NewRequest(http.MethodPost, g.url, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	res, err := g.client.Do(req)
	if err != nil {
		return err
	}
	defer res.Body.Close()
	if _, err := io.Copy(io.Discard, res.Body); err != nil {
		return err
	}
	if res.StatusCode != http.StatusOK {
		return fmt.Errorf("HTTP %d", res.StatusCode)
	}
	return nil
}

func (g *gen) reset() {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.latencies, g.errors, g.firstErr = nil, 0, ""
}

func (g *gen) fixed(rate float64, d time.Duration) result {
	total := int(rate * d.Seconds())
	interval := time.Duration(float64(time.Second) / rate)
	lags := make([]float64, 0, total)
	var wg sync.WaitGroup
	start := time.Now()
	for i := range total {
		due := start.Add(time.Duration(i) * interval)
		if wait := time.Until(due); wait > 0 {
			time.Sleep(wait)
		}
		lags = append(lags, float64(time.Since(due))/float64(time.Millisecond))
		wg.Add(1)
		go func(b []byte) {
			defer wg.Done()
			g.send(b)
		}(g.bodies[i%len(g.bodies)])
	}
	wg.Wait()
	r := g.summary("fixed", time.Since(start), total)
	r.LagP99 = percentile(sorted(lags), 99)
	return r
}

func (g *gen) saturate(concurrency int, d time.Duration) result {
	var next atomic.Int64
	var wg sync.WaitGroup
	start := time.Now()
	end := start.Add(d)
	for range concurrency {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for time.Now().Before(end) {
				i := next.Add(1) - 1
				g.send(g.bodies[int(i)%len(g.bodies)])
			}
		}()
	}
	wg.Wait()
	return g.summary("saturate", time.Since(start), int(next.Load()))
}

func (g *gen) summary(mode string, elapsed time.Duration, sent int) result {
	g.mu.Lock()
	defer g.mu.Unlock()
	s := sorted(g.latencies)
	r := result{
		Mode:       mode,
		Seconds:    elapsed.Seconds(),
		Sent:       sent,
		OK:         len(s),
		Errors:     g.errors,
		FirstError: g.firstErr,
		Achieved:   float64(len(s)) / elapsed.Seconds(),
		P50:        percentile(s, 50),
		P99:        percentile(s, 99),
		P999:       percentile(s, 99.9),
		Max:        percentile(s, 100),
	}
	return r
}

func sorted(xs []float64) []float64 {
	s := slices.Clone(xs)
	slices.Sort(s)
	return s
}

// percentile of sorted values, nearest rank; NaN (null in JSON is not possible) becomes -1.
func percentile(s []float64, p float64) float64 {
	if len(s) == 0 {
		return -1
	}
	i := int(math.Ceil(p/100*float64(len(s)))) - 1
	return s[max(0, min(len(s)-1, i))]
}
