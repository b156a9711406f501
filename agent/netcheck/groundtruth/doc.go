// Package groundtruth holds the network check's ground-truth tests: the
// probe and the check in separate Linux network namespaces, joined through a
// router namespace whose tc tbf qdiscs shape the link to a known rate, with
// iperf3 measuring the same link in the same run. It has no code of its own;
// run it as root with iproute2 and iperf3 installed (CI does).
package groundtruth
