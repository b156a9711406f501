package sessions

import (
	"bytes"
	"context"
	"fmt"
	"testing"
	"time"
)

// feedOf repeats an event, numbered, until the feed is about size bytes.
func feedOf(size int, event func(i int) string) []byte {
	var b bytes.Buffer
	b.WriteString("BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//siaprapat//bench//EN\r\n")
	for i := 0; b.Len() < size-200; i++ {
		b.WriteString(event(i))
	}
	b.WriteString("END:VCALENDAR\r\n")
	return b.Bytes()
}

func benchmarkExpand(b *testing.B, feed []byte) {
	now := time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)
	b.SetBytes(int64(len(feed)))
	b.ResetTimer()
	for b.Loop() {
		x, err := Expand(context.Background(), bytes.NewReader(feed), "s", "r", "calendar:s/r", time.UTC, now.Add(-FeedLookback), now.Add(DefaultFeedHorizon))
		if err != nil || len(x.Sessions) == 0 {
			b.Fatal(err, len(x.Sessions))
		}
	}
}

// BenchmarkExpand_4MiBOfHourlyEventsFrom2000 is the feed: 4 MiB of
// events recurring hourly since 2000 (it took about 40 ms an event, 20
// minutes a poll). The feed reaches MaxFeedSessions after a few dozen; the
// rest are read and skipped (feed_limit).
func BenchmarkExpand_4MiBOfHourlyEventsFrom2000(b *testing.B) {
	benchmarkExpand(b, feedOf(MaxCalendarBytes, func(i int) string {
		return fmt.Sprintf("BEGIN:VEVENT\r\nUID:piket-%d@bench\r\nSUMMARY:Piket %d\r\nDTSTART:20000101T%02d%02d00Z\r\nDURATION:PT30M\r\nRRULE:FREQ=HOURLY\r\nEND:VEVENT\r\n", i, i, i%24, i%60)
	}))
}

// BenchmarkExpand_4MiBOfYearlyEventsFrom2000 expands every event of a 4 MiB
// feed (each has one or two sessions in the window): what the walk to the
// window costs when no limit cuts it short.
func BenchmarkExpand_4MiBOfYearlyEventsFrom2000(b *testing.B) {
	benchmarkExpand(b, feedOf(MaxCalendarBytes, func(i int) string {
		return fmt.Sprintf("BEGIN:VEVENT\r\nUID:tahunan-%d@bench\r\nSUMMARY:Rapat tahunan %d\r\nDTSTART:2000%sT090000Z\r\nDURATION:PT1H\r\nRRULE:FREQ=YEARLY\r\nEND:VEVENT\r\n", i, i, []string{"1130", "1201", "1205", "1210"}[i%4])
	}))
}

// BenchmarkExpand_OneHourlyEvent compares an hourly event started in 2000
// with one started yesterday.
func BenchmarkExpand_OneHourlyEvent(b *testing.B) {
	for _, since := range []string{"20000101", "20261130"} {
		b.Run("since="+since, func(b *testing.B) {
			benchmarkExpand(b, []byte(ics(event("UID:h", "SUMMARY:Piket", "DTSTART:"+since+"T093000Z", "DURATION:PT30M", "RRULE:FREQ=HOURLY"))))
		})
	}
}
