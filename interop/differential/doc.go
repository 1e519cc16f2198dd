// Package differential runs the same sequences of public calls on clusters
// of hashicorp/raft v1.8.0 and of Pontoon and compares what they return:
// results, error identity (== against each library's sentinel of the same
// name) and error text. Differences kept on purpose are listed, with the
// reason, in the test (intended) and in docs/migrating.md.
package differential
