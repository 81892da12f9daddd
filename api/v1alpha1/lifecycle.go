package v1alpha1

// Lifecycle is what the operator's one reconcile shell reads of every kind that keeps
// something outside the cluster: its conditions and observed generation, and the
// management, deletion and suspend fields.
// +kubebuilder:object:generate=false
type Lifecycle interface {
	GetReconcileStatus() *ReconcileStatus
	GetManagementPolicy() ManagementPolicy
	GetDeletionPolicy() DeletionPolicy
	IsSuspended() bool
}

// AllowsModify says whether the operator may write to the clouds for the object.
func AllowsModify(o Lifecycle) bool { return o.GetManagementPolicy() != ManagementPolicyObserveOnly }

// AllowsDelete says whether deleting the object deletes (or, for a connector, switches
// off) what it keeps in the clouds: deletionPolicy Delete, Manage, and not suspended.
func AllowsDelete(o Lifecycle) bool {
	return o.GetDeletionPolicy() == DeletionPolicyDelete && AllowsModify(o) && !o.IsSuspended()
}

func (c *MTDConnector) GetReconcileStatus() *ReconcileStatus      { return &c.Status.ReconcileStatus }
func (c *MTDConnector) GetManagementPolicy() ManagementPolicy     { return c.Spec.ManagementPolicy }
func (c *MTDConnector) GetDeletionPolicy() DeletionPolicy         { return c.Spec.DeletionPolicy }
func (c *MTDConnector) IsSuspended() bool                         { return c.Spec.Suspend }
func (p *DeviceRiskPolicy) GetReconcileStatus() *ReconcileStatus  { return &p.Status.ReconcileStatus }
func (p *DeviceRiskPolicy) GetManagementPolicy() ManagementPolicy { return p.Spec.ManagementPolicy }
func (p *DeviceRiskPolicy) GetDeletionPolicy() DeletionPolicy     { return p.Spec.DeletionPolicy }
func (p *DeviceRiskPolicy) IsSuspended() bool                     { return p.Spec.Suspend }
