package mtdctl

import (
	"reflect"
	"testing"
)

// kubectl users put flags on either side of the command and its argument.
func TestFlagsOnEitherSideOfTheCommandAndItsArgument(t *testing.T) {
	for _, args := range [][]string{
		{"why", "carol-iphone", "-n", "team-a", "--as", "bob"},
		{"-n", "team-a", "why", "--as=bob", "carol-iphone"},
		{"--namespace=team-a", "--as", "bob", "why", "carol-iphone"},
	} {
		name, rest := splitCommand(args)
		if name != "why" {
			t.Fatalf("%v: command %q", args, name)
		}
		var o options
		positional, err := parse(newFlagSet("why", &o, nil), rest)
		if err != nil {
			t.Fatalf("%v: %v", args, err)
		}
		if !reflect.DeepEqual(positional, []string{"carol-iphone"}) || o.namespace != "team-a" || o.as != "bob" {
			t.Errorf("%v: positional %v, namespace %q, as %q", args, positional, o.namespace, o.as)
		}
	}
}
