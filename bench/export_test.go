package bench

import "io"

// RunChild runs the binary at path as a child measuring peers (with env
// added to its environment) on every workload named, count times, as Run
// does, and returns the report and the error that would skip the child.
func RunChild(path string, env, peers, workloads []string, count int, opts Options) (*Report, error) {
	c := &child{name: "test", peers: peers, path: path, env: env}
	rep := &Report{Count: count}
	for i := 0; i < count; i++ {
		var jobs []job
		for _, p := range peers {
			for _, w := range workloads {
				if rep.Failed(p, w) == nil {
					jobs = append(jobs, job{p, w})
				}
			}
		}
		if err := c.runJobs(rep, jobs, opts, io.Discard); err != nil {
			return rep, err
		}
	}
	return rep, nil
}
