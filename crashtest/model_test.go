package crashtest

import (
	"fmt"
	"sort"
	"strings"

	"github.com/anishathalye/porcupine"
)

// kvInput is an operation as a client issued it.
type kvInput struct {
	Op    string // "get", "put" or "append"
	Key   string
	Value string // put and append
}

// kvOutput is what came back. Unknown: the client never learnt whether a
// write took effect (timeout, lost connection, an error that does not rule
// it out); such an operation returns at the end of time (unknownReturn), so
// the checker may place it anywhere after its call, including after every
// read, which is the same as not at all.
type kvOutput struct {
	Value   string // get's value
	Unknown bool
}

// unknownReturn is the return time of an operation with an unknown outcome.
const unknownReturn = int64(1<<63 - 1)

// kvModel is a map of strings partitioned by key: each key is its own
// register with put, append and get.
var kvModel = porcupine.Model{
	Partition: func(history []porcupine.Operation) [][]porcupine.Operation {
		byKey := map[string][]porcupine.Operation{}
		var keys []string
		for _, op := range history {
			k := op.Input.(kvInput).Key
			if _, ok := byKey[k]; !ok {
				keys = append(keys, k)
			}
			byKey[k] = append(byKey[k], op)
		}
		sort.Strings(keys)
		var out [][]porcupine.Operation
		for _, k := range keys {
			out = append(out, byKey[k])
		}
		return out
	},
	Init: func() interface{} { return "" },
	Step: func(state, input, output interface{}) (bool, interface{}) {
		s, in, out := state.(string), input.(kvInput), output.(kvOutput)
		switch in.Op {
		case "get":
			return out.Unknown || out.Value == s, s
		case "put":
			return true, in.Value
		case "append":
			return true, s + in.Value
		}
		return false, s
	},
	Equal: func(a, b interface{}) bool { return a.(string) == b.(string) },
	DescribeOperation: func(input, output interface{}) string {
		in, out := input.(kvInput), output.(kvOutput)
		res := ""
		if out.Unknown {
			res = " -> ?"
		} else if in.Op == "get" {
			res = fmt.Sprintf(" -> %q", shorten(out.Value))
		}
		return fmt.Sprintf("%s(%s, %q)%s", in.Op, in.Key, in.Value, res)
	},
	DescribeState: func(state interface{}) string { return fmt.Sprintf("%q", shorten(state.(string))) },
}

// shorten keeps the end of a long value: appends land there.
func shorten(s string) string {
	if len(s) > 60 {
		return "..." + s[len(s)-57:]
	}
	return s
}

// tokens splits an appended-to value into its tokens (each ends in ',').
func tokens(v string) []string {
	parts := strings.Split(v, ",")
	return parts[:len(parts)-1]
}
