// Prometheus metrics of the controller, in the text exposition format.

export class ControllerMetrics {
  private created = 0;
  private deleted = 0;
  private readonly runs = new Map<string, number>();
  private errors = 0;
  private passes = 0;
  private passSeconds = 0;
  leader = false;

  snapshotCreated(): void {
    this.created++;
  }
  snapshotDeleted(): void {
    this.deleted++;
  }
  /** One slot run: "taken" (every claim's snapshot made) or "failed". */
  run(outcome: "taken" | "failed"): void {
    this.runs.set(outcome, (this.runs.get(outcome) ?? 0) + 1);
  }
  reconcileError(): void {
    this.errors++;
  }
  pass(seconds: number): void {
    this.passes++;
    this.passSeconds += seconds;
  }

  render(): string {
    const lines = [
      "# HELP vol_controller_snapshots_created_total VolumeSnapshots created for schedule slots.",
      "# TYPE vol_controller_snapshots_created_total counter",
      `vol_controller_snapshots_created_total ${this.created}`,
      "# HELP vol_controller_snapshots_deleted_total VolumeSnapshots deleted by retention.",
      "# TYPE vol_controller_snapshots_deleted_total counter",
      `vol_controller_snapshots_deleted_total ${this.deleted}`,
      "# HELP vol_controller_runs_total Schedule slots run, by outcome.",
      "# TYPE vol_controller_runs_total counter",
      ...[...this.runs].map(([outcome, n]) => `vol_controller_runs_total{outcome="${outcome}"} ${n}`),
      "# HELP vol_controller_reconcile_errors_total Reconciles that failed on an API error (retried).",
      "# TYPE vol_controller_reconcile_errors_total counter",
      `vol_controller_reconcile_errors_total ${this.errors}`,
      "# HELP vol_controller_reconcile_passes Passes over every schedule and the time they took.",
      "# TYPE vol_controller_reconcile_passes summary",
      `vol_controller_reconcile_passes_count ${this.passes}`,
      `vol_controller_reconcile_passes_sum ${this.passSeconds}`,
      "# HELP vol_controller_leader Whether this replica holds the leader Lease.",
      "# TYPE vol_controller_leader gauge",
      `vol_controller_leader ${this.leader ? 1 : 0}`,
    ];
    return `${lines.join("\n")}\n`;
  }
}
