package standard

import (
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/siaprapat/siaprapat/wire"
)

// Format renders a measurement's value for people, by the unit its name ends
// in: "7.5 GB", "12.3 Mbit/s", "85 ms", "0.01 %", "-19 dBFS".
func Format(measurement string, v float64) string {
	switch {
	case math.IsNaN(v) || math.IsInf(v, 0):
		return strconv.FormatFloat(v, 'g', -1, 64)
	case wire.IsFlag(measurement) && v == 0:
		return "no"
	case wire.IsFlag(measurement) && v == 1:
		return "yes"
	case strings.HasSuffix(measurement, "_bits_per_second"):
		return round(v/1e6, 2) + " Mbit/s"
	case strings.HasSuffix(measurement, "_bytes"):
		switch a := math.Abs(v); {
		case a >= 1e9:
			return round(v/1e9, 1) + " GB"
		case a >= 1e6:
			return round(v/1e6, 1) + " MB"
		case a >= 1e3:
			return round(v/1e3, 1) + " kB"
		}
		return round(v, 0) + " B"
	case strings.HasSuffix(measurement, "_seconds"):
		switch a := math.Abs(v); {
		case a < 1:
			return round(v*1e3, 1) + " ms"
		case a < 120:
			return round(v, 2) + " s"
		}
		return time.Duration(v * float64(time.Second)).Round(time.Minute).String()
	case strings.HasSuffix(measurement, "_ratio"):
		if math.Abs(v) >= 0.01 {
			return round(v*100, 1) + " %"
		}
		return round(v*100, 3) + " %"
	case strings.HasSuffix(measurement, "_dbfs"):
		return round(v, 1) + " dBFS"
	case measurement == "fps":
		return round(v, 1) + " fps"
	case strings.HasSuffix(measurement, "_pixels"):
		return round(v, 0) + " px"
	case strings.HasSuffix(measurement, "_hertz"):
		return round(v, 0) + " Hz"
	case strings.HasSuffix(measurement, "_celsius"):
		return round(v, 1) + " °C"
	}
	return round(v, 2)
}

func round(v float64, decimals int) string {
	p := math.Pow(10, float64(decimals))
	return strconv.FormatFloat(math.Round(v*p)/p, 'f', -1, 64)
}
