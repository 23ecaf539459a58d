# A Keysafe setup managed by Terraform, with its state kept in Keysafe itself: a KMS key with automatic
# rotation and an alias, a database password encrypted by that key and rotated on a schedule, and a role
# a Kubernetes workload logs in as to read it. See README.md next to this file.

terraform {
  required_version = ">= 1.11" # write-only attributes (value_wo)

  # State in Keysafe, encrypted by its KMS engine, locked while Terraform runs.
  # The password is the environment variable TF_HTTP_PASSWORD (a Keysafe token): never put it here,
  # Terraform copies backend settings in plaintext into .terraform/.
  backend "http" {
    address        = "http://127.0.0.1:8270/v1/terraform/state/basic"
    lock_address   = "http://127.0.0.1:8270/v1/terraform/state/basic"
    unlock_address = "http://127.0.0.1:8270/v1/terraform/state/basic"
    lock_method    = "LOCK"
    unlock_method  = "UNLOCK"
    username       = "keysafe"
  }

  required_providers {
    # Installed offline by `keysafe terraform install --dir terraform/examples/basic`.
    keysafe = { source = "keysafe.local/keysafe/keysafe" }
  }
}

variable "keysafe_address" {
  type        = string
  description = "The Keysafe server."
  default     = "http://127.0.0.1:8270"
}

variable "db_password" {
  type        = string
  description = "The database password's first value (TF_VAR_db_password). Ephemeral: never in plan or state."
  sensitive   = true
  ephemeral   = true
}

variable "db_password_version" {
  type        = number
  description = "Bump it to store a new db_password."
  default     = 1
}

# The token comes from the environment variable KEYSAFE_TOKEN.
provider "keysafe" {
  address = var.keysafe_address
}

resource "keysafe_kms_key" "app" {
  description             = "orders: encrypts the orders service's secrets"
  enable_key_rotation     = true
  rotation_period_in_days = 90
  deletion_window_in_days = 7
  tags                    = { team = "orders" }
}

resource "keysafe_kms_alias" "app" {
  name          = "alias/orders"
  target_key_id = keysafe_kms_key.app.id
}

resource "keysafe_secret" "db" {
  name                    = "orders/db-password"
  description             = "Password of the orders database user"
  kms_key_id              = keysafe_kms_key.app.arn
  recovery_window_in_days = 7

  # Write-only: Terraform sends the value to Keysafe but keeps it out of plan and state.
  value_wo         = var.db_password
  value_wo_version = var.db_password_version

  # Keysafe replaces the value with a new random password every 30 days (never during an apply).
  rotation {
    strategy            = "random-password"
    settings            = { length = "32" }
    schedule_expression = "rate(30 days)"
  }

  tags = { team = "orders" }
}

# A workload that may read the password: Kubernetes service account orders/api, through the trusted
# issuer named "kubernetes" in the server's config (see "Workload identity" in the top-level README).
resource "keysafe_role" "orders_api" {
  name        = "orders-api"
  issuer      = "kubernetes"
  subjects    = ["system:serviceaccount:orders:api"]
  session_ttl = "1h"
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [
      {
        Effect   = "Allow"
        Action   = ["secretsmanager:GetSecretValue", "secretsmanager:DescribeSecret"]
        Resource = [keysafe_secret.db.arn]
      },
      {
        Effect   = "Allow"
        Action   = ["kms:Decrypt"]
        Resource = [keysafe_kms_key.app.arn]
      },
    ]
  })
}

output "kms_key_arn" {
  value = keysafe_kms_key.app.arn
}

output "kms_alias_arn" {
  value = keysafe_kms_alias.app.arn
}

output "db_secret_arn" {
  value = keysafe_secret.db.arn
}

output "role_arn" {
  value = keysafe_role.orders_api.arn
}
