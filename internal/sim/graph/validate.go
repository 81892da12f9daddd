package graph

import (
	"fmt"
	"math"
	"slices"
)

// kind is the EDM type of a writable property.
type kind int

const (
	kBool kind = iota
	kInt
	kString
	kStrings
	kEnum
	kAny // complex values the twin stores without looking inside
)

type prop struct {
	k    kind
	enum []string
}

func enum(v ...string) prop { return prop{k: kEnum, enum: v} }

var (
	pBool    = prop{k: kBool}
	pInt     = prop{k: kInt}
	pString  = prop{k: kString}
	pStrings = prop{k: kStrings}
	pAny     = prop{k: kAny}
)

// checkValue validates v against p; the error reads like Graph's.
func checkValue(name string, p prop, v any) error {
	if v == nil {
		return nil // null clears a nullable property
	}
	bad := func(edm string) error {
		return fmt.Errorf("Cannot convert the literal '%v' to the expected type '%s' (property '%s').", v, edm, name)
	}
	switch p.k {
	case kBool:
		if _, ok := v.(bool); !ok {
			return bad("Edm.Boolean")
		}
	case kInt:
		f, ok := v.(float64)
		if !ok || f != math.Trunc(f) || f < math.MinInt32 || f > math.MaxInt32 {
			return bad("Edm.Int32")
		}
	case kString:
		if _, ok := v.(string); !ok {
			return bad("Edm.String")
		}
	case kStrings:
		arr, ok := v.([]any)
		if !ok {
			return bad("Collection(Edm.String)")
		}
		for _, x := range arr {
			if _, ok := x.(string); !ok {
				return bad("Collection(Edm.String)")
			}
		}
	case kEnum:
		s, ok := v.(string)
		if !ok || !slices.Contains(p.enum, s) {
			return fmt.Errorf("Requested value '%v' was not found (property '%s').", v, name)
		}
	}
	return nil
}

// checkProps validates every property of body against props, ignoring the
// read-only and @odata annotations listed in skip. Unknown properties are
// refused, as OData does for closed types.
func checkProps(typeName string, body map[string]any, props map[string]prop, skip []string) error {
	for k, v := range body {
		if slices.Contains(skip, k) {
			continue
		}
		p, ok := props[k]
		if !ok {
			return fmt.Errorf("The property '%s' does not exist on type '%s'. Make sure to only use property names that are defined by the type or mark the type as open type.", k, typeName)
		}
		if err := checkValue(k, p, v); err != nil {
			return err
		}
	}
	return nil
}

// zeroOf is the value Graph shows for a property never written.
func zeroOf(p prop) any {
	switch p.k {
	case kBool:
		return false
	case kEnum:
		return p.enum[0]
	case kStrings:
		return []any{}
	}
	return nil
}
