package calendar_test

import (
	"fmt"
	"time"

	"github.com/ccswitch/ccswitch/config"
	"github.com/ccswitch/ccswitch/ivr/calendar"
)

func ExampleCalendar_NextChange() {
	cal, err := calendar.New(config.Schedule{
		Timezone: "Europe/Paris",
		Hours:    []config.Hours{{Days: "mon-fri", Open: []string{"09:00-17:00"}}},
		Holidays: []config.Holiday{{Name: "christmas", Date: "12-25"}},
	})
	if err != nil {
		panic(err)
	}
	at := time.Date(2026, 12, 24, 18, 0, 0, 0, time.UTC) // Thursday 19:00 in Paris
	for range 3 {
		state, why := cal.State(at)
		next, _ := cal.NextChange(at)
		fmt.Printf("%s (%s) until %s\n", state, why, next.Format("Mon 02 Jan 15:04 MST"))
		at = next
	}
	// Output:
	// closed (hours) until Fri 25 Dec 00:00 CET
	// holiday (holiday christmas) until Sat 26 Dec 00:00 CET
	// closed (hours) until Mon 28 Dec 09:00 CET
}
