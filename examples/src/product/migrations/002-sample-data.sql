-- A fresh landscape has products to show before anything was created through product-composite.
INSERT INTO products (product_id, name, weight) VALUES
  (1, 'Trellis starter kit', 1),
  (2, 'Garden arch', 12),
  (3, 'Climbing rose', 2);
