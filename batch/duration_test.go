package batch

import (
	"encoding/json"
	"testing"
	"time"
)

func TestParseDuration(t *testing.T) {
	tests := []struct {
		in   string
		want time.Duration
	}{
		{"PT0S", 0},
		{"PT1H30M", 90 * time.Minute},
		{"P1D", 24 * time.Hour},
		{"PT0.5S", 500 * time.Millisecond},
		{"PT0,25S", 250 * time.Millisecond},
		{"P1DT12H", 36 * time.Hour},
		{"P2W", 14 * 24 * time.Hour},
		{"P1Y", 365 * 24 * time.Hour},
		{"P1M", 30 * 24 * time.Hour},
		{"PT1M", time.Minute},
		{"P7D", 7 * 24 * time.Hour},
		{"PT15M", 15 * time.Minute},
		{"PT1.123456789999S", time.Second + 123456789*time.Nanosecond},
		{"-PT5S", -5 * time.Second},
		{"PT36H", 36 * time.Hour},
		{InfiniteString, Infinite},
		{"P100000Y", Infinite},
		{"P99999999999999999999999D", Infinite},
	}
	for _, tt := range tests {
		got, err := ParseDuration(tt.in)
		if err != nil {
			t.Errorf("ParseDuration(%q): %v", tt.in, err)
			continue
		}
		if got != tt.want {
			t.Errorf("ParseDuration(%q) = %v, want %v", tt.in, got, tt.want)
		}
	}
}

func TestParseDurationErrors(t *testing.T) {
	for _, in := range []string{
		"", "P", "PT", "1H", "PT1", "P1H", "PT1D", "P1DT", "PTH", "PT1.S", "P1.5D", "PT1M1H",
		"P1D1D", "PT1HT1M", "pt1h", "PT1H ", "P-1D",
	} {
		if d, err := ParseDuration(in); err == nil {
			t.Errorf("ParseDuration(%q) = %v, want an error", in, d)
		}
	}
}

func TestFormatDuration(t *testing.T) {
	tests := []struct {
		in   time.Duration
		want string
	}{
		{0, "PT0S"},
		{90 * time.Minute, "PT1H30M"},
		{24 * time.Hour, "P1D"},
		{36 * time.Hour, "P1DT12H"},
		{500 * time.Millisecond, "PT0.5S"},
		{time.Second + time.Nanosecond, "PT1.000000001S"},
		{7 * 24 * time.Hour, "P7D"},
		{-5 * time.Second, "-PT5S"},
		{Infinite, InfiniteString},
		{25*time.Hour + 2*time.Minute + 3*time.Second, "P1DT1H2M3S"},
	}
	for _, tt := range tests {
		if got := FormatDuration(tt.in); got != tt.want {
			t.Errorf("FormatDuration(%v) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestDurationRoundTrip(t *testing.T) {
	for _, d := range []time.Duration{0, 1, time.Millisecond, 59 * time.Second, time.Hour,
		1000 * time.Hour, 3*24*time.Hour + 7*time.Nanosecond, Infinite, Infinite - 1} {
		got, err := ParseDuration(FormatDuration(d))
		if err != nil || got != d {
			t.Errorf("round trip of %v via %q = %v, %v", d, FormatDuration(d), got, err)
		}
	}
}

func TestDurationJSON(t *testing.T) {
	var v struct {
		D *Duration `json:"d"`
	}
	if err := json.Unmarshal([]byte(`{"d":"PT1H"}`), &v); err != nil {
		t.Fatal(err)
	}
	if v.D.Std() != time.Hour {
		t.Fatalf("got %v", v.D)
	}
	b, _ := json.Marshal(v)
	if string(b) != `{"d":"PT1H"}` {
		t.Fatalf("marshal: %s", b)
	}
	err := json.Unmarshal([]byte(`{"d":"one hour"}`), &v)
	if CodeOf(err) != CodeInvalidPropertyValue {
		t.Fatalf("bad duration: got %v, want InvalidPropertyValue", err)
	}
	err = json.Unmarshal([]byte(`{"d":3600}`), &v)
	if CodeOf(err) != CodeInvalidPropertyValue {
		t.Fatalf("number duration: got %v, want InvalidPropertyValue", err)
	}
}
