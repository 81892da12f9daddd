package syslog

import (
	"slices"
	"strings"
	"testing"
)

// mixedStream has every accepted framing on one connection, with the alert ids in order.
func mixedStream() (string, []string) {
	want := []string{"octet", "lf", "crlf", "nul", "lf-nul", "octet-lf-counted", "octet-then-lf", "last"}
	s := octet(alert(want[0])) +
		lf(alert(want[1])) +
		alert(want[2]) + "\r\n" +
		alert(want[3]) + "\x00" +
		alert(want[4]) + "\n\x00" +
		octet(alert(want[5])+"\n") +
		octet(alert(want[6])) + "\n" +
		"\r\n\n" + lf(alert(want[7]))
	return s, want
}

func TestFramingMixedOnOneConnection(t *testing.T) {
	obs := newCounter()
	l := start(t, Config{Observer: obs})
	stream, want := mixedStream()

	c := dial(t, l)
	write(t, c, stream)
	if got := ids(recv(t, l, len(want))); !slices.Equal(got, want) {
		t.Errorf("one write: got %v, want %v", got, want)
	}

	// The same bytes one at a time: every frame boundary falls inside a read.
	c2 := dial(t, l)
	for i := range len(stream) {
		write(t, c2, stream[i:i+1])
	}
	if got := ids(recv(t, l, len(want))); !slices.Equal(got, want) {
		t.Errorf("byte by byte: got %v, want %v", got, want)
	}
	eventually(t, "all frames counted", func() bool { return obs.handled() == 2*len(want) })
	noMoreEvents(t, l)
	obs.checkBalanced(t)
}

func TestEventCarriesSourceAndReceived(t *testing.T) {
	l := start(t, Config{})
	write(t, dial(t, l), lf(alert(exampleID)))
	ev := recv(t, l, 1)[0]
	if ev.Source.String() != "127.0.0.1" || ev.Received.IsZero() || ev.AlertID != exampleID || ev.Detail != "Evil Flashlight" {
		t.Errorf("got %+v", ev)
	}
}

func TestMalformedFramesKeepConnection(t *testing.T) {
	obs := newCounter()
	l := start(t, Config{Observer: obs})
	c := dial(t, l)
	write(t, c, lf("hello")+
		lf("<999>1 - - - - - - "+minimalAlert)+
		octet("<14>1 - - - - - x")+
		lf("<14>1 - - - - - - Alert Id: 1, Alert Id: 2, Alert Name: a: b")+
		lf("<14>1 - - - - - - This is a test message")+
		octet("<14>1 - - - - - - Event Type: Threat, Device Name: pc")+
		lf(alert("good")))
	if got := recv(t, l, 1)[0].AlertID; got != "good" {
		t.Errorf("got %q", got)
	}
	eventually(t, "drops counted", func() bool { return obs.handled() == 7 })
	if m, n := obs.drops(ReasonMalformed), obs.drops(ReasonNotAnAlert); m != 4 || n != 2 {
		t.Errorf("malformed %d (want 4), not_an_alert %d (want 2)", m, n)
	}
	obs.checkBalanced(t)
}

func TestOversizedFramesAreSkipped(t *testing.T) {
	const max = 1024
	obs := newCounter()
	l := start(t, Config{Observer: obs, Limits: Limits{MaxMessageBytes: max}})
	c := dial(t, l)

	exact := "<14>1 - - - - - - " + minimalAlert + ", Pad: "
	exact += strings.Repeat("p", max-len(exact))
	big := strings.Repeat("x", 100_000)
	write(t, c, octet("<14>1 - - - - - - "+big)+ // declared and sent, far over
		lf("<14>1 - - - - - - "+big)+ // a long line
		lf(exact+"p")+ // one byte over
		octet(exact+"p")+
		lf(strings.Repeat("y", max)+"\r")+ // CR then LF just past the buffer
		lf(exact)+ // exactly the limit is accepted
		octet(exact)+
		lf(alert("after")))
	evs := recv(t, l, 3)
	if evs[0].AlertID != "1" || evs[1].AlertID != "1" || evs[2].AlertID != "after" {
		t.Errorf("got %v", ids(evs))
	}
	eventually(t, "frames counted", func() bool { return obs.handled() == 8 })
	if n, m := obs.drops(ReasonOversized), obs.drops(ReasonMalformed); n != 4 || m != 1 {
		t.Errorf("oversized %d (want 4), malformed %d (want 1, the y line)", n, m)
	}
	obs.checkBalanced(t)
}

func TestBadOctetCountClosesConnection(t *testing.T) {
	for _, bad := range []string{"12a <14>1 - - - - - -\n", "0 x", "1234567890 x", "12\n"} {
		obs := newCounter()
		l := start(t, Config{Observer: obs})
		c := dial(t, l)
		write(t, c, octet(alert("before"))+bad+lf(alert("lost")))
		closedByPeer(t, c)
		if got := recv(t, l, 1)[0].AlertID; got != "before" {
			t.Errorf("%q: got %q", bad, got)
		}
		eventually(t, "malformed counted", func() bool { return obs.drops(ReasonMalformed) == 1 })
		// The listener serves the next connection.
		write(t, dial(t, l), octet(alert("next")))
		if got := recv(t, l, 1)[0].AlertID; got != "next" {
			t.Errorf("%q: next connection got %q", bad, got)
		}
		noMoreEvents(t, l)
		obs.checkBalanced(t)
	}
}

func TestDisconnectMidMessage(t *testing.T) {
	obs := newCounter()
	l := start(t, Config{Observer: obs})
	for i, cut := range []string{
		octet(alert("cut"))[:100], // inside an octet-counted message
		"512",                     // inside the count
		alert("cut")[:100],        // inside a newline-terminated message
	} {
		c := dial(t, l)
		write(t, c, lf(alert("whole"))+cut)
		_ = c.Close()
		if got := recv(t, l, 1)[0].AlertID; got != "whole" {
			t.Errorf("%d: got %q", i, got)
		}
		eventually(t, "cut frame counted", func() bool { return obs.drops(ReasonMalformed) == i+1 })
	}
	write(t, dial(t, l), octet(alert("next")))
	if got := recv(t, l, 1)[0].AlertID; got != "next" {
		t.Errorf("next connection got %q", got)
	}
	noMoreEvents(t, l)
	obs.checkBalanced(t)
}
