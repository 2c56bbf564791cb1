from django.contrib.auth.decorators import login_required
from django.shortcuts import render

from customers.models import Customer


@login_required
def customer_list(request):
    customers = Customer.objects.visible_to(request.user).select_related("station")[:50]
    return render(request, "customers/list.html", {"customers": customers})
